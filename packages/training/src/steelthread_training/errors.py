"""Errors of the training package.

Every failure a user can cause (missing data, a refused gate, a bad alias, a corrupt artifact) has its own
type, so the CLIs can print one line and exit with a distinct status instead of a traceback.
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base class: the message is one readable line meant for the operator."""

    exit_code = 1


class DataMissingError(TrainingError):
    """The generated data or the feature registry is not there yet."""


class DataValidationError(TrainingError):
    """The training frame failed validation; `report` holds every check."""

    exit_code = 2

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class GateRefusedError(TrainingError):
    """A model did not pass its gate (at training, or when asked to promote it)."""

    exit_code = 3


class ParityError(TrainingError):
    """The ONNX export does not reproduce the native model's scores."""

    exit_code = 4


class RegistryError(TrainingError):
    """The model registry (MLflow) cannot be reached or does not hold what was asked for."""

    exit_code = 5


class PromotionError(TrainingError):
    """A promotion or rollback that breaks the alias order or has nothing to act on."""

    exit_code = 6


class CorruptArtifactError(TrainingError):
    """A stored artifact is missing, unreadable, or does not match its recorded hash."""

    exit_code = 7


class AuditError(TrainingError):
    """The audit log is unreadable or does not answer the question."""

    exit_code = 8


class InconsistentStateError(TrainingError):
    """The registry aliases, the deployment pointers and the audit log disagree, or a move is half done."""

    exit_code = 9
