"""The model's tree ensemble as flat tensors, evaluated by gathers: the GPU scorer.

onnxruntime runs tree ensembles on the CPU only; a forest laid out as arrays (feature, threshold, child
ids per node) is evaluated for all rows and trees at once with gathers and `where`, which is what a GPU
is good at (the same idea as Hummingbird's tree-traversal strategy). The arrays are read from the
package's own ONNX `TreeEnsembleClassifier`, so GPU and CPU score the same published model, and the
traversal is written once for NumPy and PyTorch: NumPy runs it on the CPU in CI (parity with
onnxruntime is tested there), PyTorch on CUDA where it is installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from steelthread_batch.errors import BatchInputError

_MODES = {b"BRANCH_LEQ": 0, b"BRANCH_LT": 1, b"LEAF": 2}


@dataclass(frozen=True)
class Forest:
    feature: np.ndarray  # int64 per node (0 for leaves)
    threshold: np.ndarray  # float32 per node
    true_child: np.ndarray  # int64 global node id
    false_child: np.ndarray
    missing_true: np.ndarray  # bool
    strict: np.ndarray  # bool: BRANCH_LT instead of BRANCH_LEQ
    leaf: np.ndarray  # bool
    value: np.ndarray  # float64 leaf weight (class 1 margin)
    roots: np.ndarray  # int64 global id of each tree's root
    depth: int
    base: float
    post_transform: str


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def load_forest(model_path: str) -> Forest:
    """Flatten the TreeEnsembleClassifier of a binary classifier into per-node arrays."""
    import onnx

    model = onnx.load(model_path)
    nodes = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(nodes) != 1:
        raise BatchInputError(f"{model_path}: the GPU scorer needs exactly one TreeEnsembleClassifier")
    attrs = _attributes(nodes[0])
    labels = list(attrs.get("classlabels_int64s", []))
    if labels != [0, 1]:
        raise BatchInputError(f"{model_path}: the GPU scorer handles binary classifiers (labels 0, 1)")
    tree_ids = np.asarray(attrs["nodes_treeids"], dtype=np.int64)
    node_ids = np.asarray(attrs["nodes_nodeids"], dtype=np.int64)
    modes = attrs["nodes_modes"]
    unknown = {m for m in modes if m not in _MODES}
    if unknown:
        raise BatchInputError(f"{model_path}: node modes {sorted(unknown)} are not supported on the GPU")
    key = {(int(t), int(n)): i for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True))}

    def global_ids(children: list[int]) -> np.ndarray:
        return np.array(
            [key.get((int(t), int(c)), i) for i, (t, c) in enumerate(zip(tree_ids, children, strict=True))],
            dtype=np.int64,
        )

    mode_codes = np.array([_MODES[m] for m in modes], dtype=np.int8)
    value = np.zeros(len(modes), dtype=np.float64)
    class_ids = np.asarray(attrs["class_ids"], dtype=np.int64)
    if class_ids.size and class_ids.max() != 0:
        raise BatchInputError(f"{model_path}: expected one weight per leaf (binary classifier)")
    for t, n, w in zip(attrs["class_treeids"], attrs["class_nodeids"], attrs["class_weights"], strict=True):
        value[key[(int(t), int(n))]] += w
    leaf = mode_codes == 2
    trees = np.unique(tree_ids)
    roots = np.array([key[(int(t), 0)] for t in trees], dtype=np.int64)
    true_child = np.where(leaf, np.arange(len(modes)), global_ids(attrs["nodes_truenodeids"]))
    false_child = np.where(leaf, np.arange(len(modes)), global_ids(attrs["nodes_falsenodeids"]))
    depth = _max_depth(roots, true_child, false_child, leaf)
    base_values = list(attrs.get("base_values", []))
    post = attrs.get("post_transform", b"NONE")
    return Forest(
        feature=np.where(leaf, 0, np.asarray(attrs["nodes_featureids"], dtype=np.int64)),
        threshold=np.asarray(attrs["nodes_values"], dtype=np.float32),
        true_child=true_child,
        false_child=false_child,
        missing_true=np.asarray(attrs.get("nodes_missing_value_tracks_true", [0] * len(modes)), dtype=bool),
        strict=mode_codes == 1,
        leaf=leaf,
        value=value,
        roots=roots,
        depth=depth,
        base=float(base_values[-1]) if base_values else 0.0,
        post_transform=post.decode() if isinstance(post, bytes) else str(post),
    )


def _max_depth(roots: np.ndarray, true_child: np.ndarray, false_child: np.ndarray, leaf: np.ndarray) -> int:
    depth = 0
    frontier = roots
    while not leaf[frontier].all():
        frontier = np.unique(np.concatenate([true_child[frontier], false_child[frontier]]))
        depth += 1
        if depth > 10_000:
            raise BatchInputError("tree ensemble has a cycle")
    return depth


class _Backend:
    """The few array operations the traversal needs, for NumPy or PyTorch."""

    def __init__(self, device: str) -> None:
        self.device = device
        if device == "cpu":
            self.xp: Any = np
        else:
            self.xp = importlib.import_module("torch")

    def put(self, array: np.ndarray) -> Any:
        if self.device == "cpu":
            return array
        return self.xp.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def back(self, array: Any) -> np.ndarray:
        if self.device == "cpu":
            return np.asarray(array)
        result: np.ndarray = array.cpu().numpy()
        return result


class DeviceForest:
    """A forest whose arrays live on one device, ready to score float32 matrices."""

    def __init__(self, forest: Forest, device: str) -> None:
        self.forest = forest
        self.backend = _Backend(device)
        put = self.backend.put
        self.feature = put(forest.feature)
        self.threshold = put(forest.threshold)
        self.true_child = put(forest.true_child)
        self.false_child = put(forest.false_child)
        self.missing_true = put(forest.missing_true)
        self.strict = put(forest.strict)
        self.value = put(forest.value)
        self.roots = put(forest.roots)

    def predict(self, matrix: np.ndarray, chunk_rows: int = 32_768) -> np.ndarray:
        out = np.empty(len(matrix), dtype=np.float32)
        for start in range(0, len(matrix), chunk_rows):
            out[start : start + chunk_rows] = self._chunk(matrix[start : start + chunk_rows])
        return out

    def _chunk(self, matrix: np.ndarray) -> np.ndarray:
        xp = self.backend.xp
        x = self.backend.put(np.ascontiguousarray(matrix, dtype=np.float32))
        rows = x.shape[0]
        node = self.roots[None, :].repeat(rows, 0) if xp is np else self.roots.unsqueeze(0).repeat(rows, 1)
        for _ in range(self.forest.depth):
            features = self.feature[node]
            values = np.take_along_axis(x, features, axis=1) if xp is np else xp.gather(x, 1, features)
            threshold = self.threshold[node]
            go_true = xp.where(self.strict[node], values < threshold, values <= threshold)
            go_true = go_true | (xp.isnan(values) & self.missing_true[node])
            node = xp.where(go_true, self.true_child[node], self.false_child[node])
        margin = self.value[node].sum(1) + self.forest.base
        if self.forest.post_transform == "LOGISTIC":
            margin = 1.0 / (1.0 + xp.exp(-margin))
        elif self.forest.post_transform != "NONE":
            raise BatchInputError(f"post_transform {self.forest.post_transform} is not supported on the GPU")
        return self.backend.back(margin).astype(np.float32)
