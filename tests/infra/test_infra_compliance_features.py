"""terraform-compliance features: well-formed Gherkin covering every rule the infrastructure issue names.

terraform-compliance runs on a real plan in the infra workflow; offline we check that each feature file
parses as Gherkin with steps terraform-compliance understands, and that the required rules are all there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

COMPLIANCE = Path(__file__).resolve().parents[2] / "infra" / "terraform" / "compliance"
STEP = re.compile(
    r"^(Given I have (resource that supports \S+|\S+) defined"
    r"|When its \S+ is \S+"
    r"|When it has \S+"
    r"|Then it must contain \S+|And it must contain \S+"
    r"|Then it must not contain \S+|And it must not contain \S+"
    r"|Then its value must be \S+|And its value must be \S+"
    r"|And its value must be greater and equal than \d+"
    r'|Then its value must (not )?match the "[^"]+" regex|And its value must (not )?match the "[^"]+" regex'
    r"|Then it must fail)$"
)


def features() -> list[Path]:
    return sorted(COMPLIANCE.rglob("*.feature"))


def parse(path: Path) -> dict[str, list[str]]:
    """scenario title -> its steps (Scenario Outline steps with <placeholders> filled from the first row)."""
    scenarios: dict[str, list[str]] = {}
    current: str | None = None
    outline_rows: list[list[str]] = []
    header: list[str] = []
    lines = [line.strip() for line in path.read_text().splitlines()]
    assert lines[0].startswith("Feature: "), f"{path.name} must start with Feature:"
    for line in lines[1:]:
        if line.startswith(("Scenario: ", "Scenario Outline: ")):
            current = line.split(": ", 1)[1]
            assert current not in scenarios, f"{path.name}: duplicate scenario {current}"
            scenarios[current] = []
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not header:
                header = cells
            else:
                outline_rows.append(cells)
        elif current and line.startswith(("Given ", "When ", "Then ", "And ")):
            scenarios[current].append(line)
    if header and outline_rows:
        for title, steps in scenarios.items():
            filled = []
            for step in steps:
                for key, value in zip(header, outline_rows[0], strict=True):
                    step = step.replace(f"<{key}>", value)
                filled.append(step)
            scenarios[title] = filled
    return scenarios


@pytest.mark.parametrize("path", features(), ids=lambda p: str(p.relative_to(COMPLIANCE)))
def test_feature_steps_are_terraform_compliance_steps(path: Path) -> None:
    scenarios = parse(path)
    assert scenarios, f"{path.name} has no scenario"
    for title, steps in scenarios.items():
        assert steps, f"{title}: has no steps"
        assert steps[0].startswith("Given "), f"{title}: must start with Given"
        assert any(s.startswith("Then ") for s in steps), f"{title}: has no Then"
        for step in steps:
            assert STEP.match(step), f"{path.name} / {title}: unknown step {step!r}"


def test_step_grammar_rejects_made_up_steps() -> None:
    assert STEP.match("Then it must contain tags_all")
    assert not STEP.match("Then it should be secure")
    assert not STEP.match("Given I have aws_s3_bucket")


def all_steps(pattern: str) -> str:
    return "\n".join(
        step
        for path in features()
        if re.search(pattern, str(path.relative_to(COMPLIANCE)))
        for steps in parse(path).values()
        for step in steps
    )


@pytest.mark.parametrize(
    ("folder", "required"),
    [
        # encryption
        (r"^[^/]+$", "Given I have aws_s3_bucket_server_side_encryption_configuration defined"),
        (r"^[^/]+$", 'And its value must match the "^(aws:kms|AES256)$" regex'),
        (r"^[^/]+$", "Then it must contain storage_encrypted"),
        (r"^[^/]+$", "Then it must contain at_rest_encryption_enabled"),
        (r"^[^/]+$", "Then it must contain transit_encryption_enabled"),
        # tags
        (r"^[^/]+$", "Given I have resource that supports tags_all defined"),
        (r"^[^/]+$", "And it must contain Environment"),
        # no public access
        (r"^[^/]+$", "Then it must contain publicly_accessible"),
        (r"^[^/]+$", "Given I have aws_s3_bucket_public_access_block defined"),
        # GPU pools only with GPU instance types
        (r"^gpu/", 'And its value must match the "^(g|p)[0-9]" regex'),
        (r"^gpu/", "When its ami_type is AL2023_x86_64_NVIDIA"),
        (r"^gpu/", "And its value must be nvidia.com/gpu"),
        # CPU stack without GPU nodes
        (r"^cpu/", "When its ami_type is AL2023_x86_64_NVIDIA"),
        (r"^cpu/", 'And its value must not match the "^(g|p)[0-9]" regex'),
        # deletion protection in prod
        (r"^prod/", "Then it must contain deletion_protection"),
    ],
)
def test_required_rule_is_covered(folder: str, required: str) -> None:
    assert required in all_steps(folder).splitlines()


def test_cpu_feature_fails_on_nvidia_node_groups() -> None:
    scenarios = parse(COMPLIANCE / "cpu" / "no_gpu_nodes.feature")
    nvidia = scenarios["No node group uses an NVIDIA-accelerated AMI"]
    assert nvidia[-1] == "Then it must fail"


def test_gpu_feature_regex_matches_gpu_types_only() -> None:
    (pattern,) = set(re.findall(r'match the "([^"]+)" regex', all_steps(r"^gpu/")))
    assert all(re.search(pattern, t) for t in ["g6.xlarge", "p5.48xlarge", "g5.2xlarge"])
    assert not any(re.search(pattern, t) for t in ["m7i.large", "c7i.xlarge", "inf2.xlarge"])
