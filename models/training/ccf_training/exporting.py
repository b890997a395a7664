"""ONNX export helpers: every model takes one float32 input named `input` of shape [N, features]."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxmltools import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType as MlFloatTensorType

OPSET = 15
ML_OPSET = 3
INPUT_NAME = "input"


def _finish(model: onnx.ModelProto, doc: str) -> bytes:
    model.producer_name = "ccf-catcher-training"
    model.producer_version = "1"
    model.doc_string = doc
    # onnxmltools names the graph with a random uuid: a fixed name keeps the bytes (and sha256) reproducible.
    model.graph.name = "ccf_model"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def lightgbm_to_onnx(model: object, n_features: int, doc: str) -> bytes:
    """Tree ensemble -> ONNX with ZipMap disabled: outputs `label` (int64 [N]) and `probabilities` (float [N, C])."""
    onx = convert_lightgbm(
        model,
        initial_types=[(INPUT_NAME, MlFloatTensorType([None, n_features]))],
        target_opset=OPSET,
        zipmap=False,
    )
    return _finish(onx, doc)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log(|x| + 1) in float32, exactly the nodes prepended to the anomaly model."""
    x = x.astype(np.float32)
    return (np.sign(x) * np.log(np.abs(x) + np.float32(1.0))).astype(np.float32)


def _average_path_length(n: float) -> float:
    """sklearn.ensemble._iforest._average_path_length for one sample count."""
    if n <= 1:
        return 0.0
    if n <= 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n


def _float32_floor(t: float) -> float:
    """Largest float32 <= t: for float32 inputs x, `x <= t` and `x <= float32_floor(t)` agree exactly."""
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf), dtype=np.float32)
    return float(t32)


def isolation_forest_to_onnx(
    model: Any, n_features: int, doc: str, gate_feature: int | None = None, columns: list[int] | None = None
) -> bytes:
    """A fitted sklearn IsolationForest (on signed_log1p(features)) as ONE TreeEnsembleRegressor node.

    skl2onnx emits ~27 nodes per tree (5,000+ for 200 trees), which takes seconds to load and is slow to run.
    Here each leaf carries its isolation path length (depth + c(samples in leaf)), the ensemble sums them, and
    three element-wise nodes turn the sum into sklearn's score:
        anomaly_score = 2 ** (-sum / (n_trees * c(max_samples))) + offset_  (= -decision_function)
    The graph computes signed_log1p itself, so it takes the raw features.

    With `gate_feature`, the score is multiplied by (input[:, gate_feature] >= 0): a record whose context columns
    are absent (-1: a lone flow, scored without its capture) gets 0, "no evidence", instead of a score for a
    point outside everything the detector was trained on.

    With `columns`, the forest was fitted on x[:, columns] and the graph reads the full row (n_features wide):
    its splits refer to columns[j], so the scorer can hand it the classifier's input buffer as is."""
    tree_ids, node_ids, feature_ids, values, modes, true_ids, false_ids = [], [], [], [], [], [], []
    target_tree, target_node, target_weight = [], [], []
    for t, (estimator, features) in enumerate(zip(model.estimators_, model.estimators_features_, strict=True)):
        tree = estimator.tree_
        depth = np.zeros(tree.node_count, dtype=np.int64)
        for node in range(tree.node_count):
            for child in (tree.children_left[node], tree.children_right[node]):
                if child != -1:
                    depth[child] = depth[node] + 1
        for node in range(tree.node_count):
            tree_ids.append(t)
            node_ids.append(node)
            if tree.children_left[node] == -1:
                feature_ids.append(0)
                values.append(0.0)
                modes.append("LEAF")
                true_ids.append(0)
                false_ids.append(0)
                target_tree.append(t)
                target_node.append(node)
                target_weight.append(float(depth[node] + _average_path_length(float(tree.n_node_samples[node]))))
            else:
                fitted = int(features[tree.feature[node]])
                feature_ids.append(fitted if columns is None else int(columns[fitted]))
                values.append(_float32_floor(float(tree.threshold[node])))
                modes.append("BRANCH_LEQ")
                true_ids.append(int(tree.children_left[node]))
                false_ids.append(int(tree.children_right[node]))
    ensemble = helper.make_node(
        "TreeEnsembleRegressor",
        ["slog_input"],
        ["path_sum"],
        domain="ai.onnx.ml",
        name="iforest_paths",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        nodes_treeids=tree_ids,
        nodes_nodeids=node_ids,
        nodes_featureids=feature_ids,
        nodes_values=values,
        nodes_modes=modes,
        nodes_truenodeids=true_ids,
        nodes_falsenodeids=false_ids,
        nodes_missing_value_tracks_true=[0] * len(tree_ids),
        target_treeids=target_tree,
        target_nodeids=target_node,
        target_ids=[0] * len(target_tree),
        target_weights=target_weight,
    )
    scale = -math.log(2.0) / (len(model.estimators_) * _average_path_length(float(model.max_samples_)))
    nodes = [
        helper.make_node("Abs", [INPUT_NAME], ["abs_x"], name="slog_abs"),
        helper.make_node("Add", ["abs_x", "slog_one"], ["abs_x1"], name="slog_add"),
        helper.make_node("Log", ["abs_x1"], ["log_abs"], name="slog_log"),
        helper.make_node("Sign", [INPUT_NAME], ["sign_x"], name="slog_sign"),
        helper.make_node("Mul", ["sign_x", "log_abs"], ["slog_input"], name="slog_mul"),
        ensemble,
        helper.make_node("Mul", ["path_sum", "score_scale"], ["log_score"], name="score_scale_mul"),
        helper.make_node("Exp", ["log_score"], ["score"], name="score_exp"),
        helper.make_node(
            "Add", ["score", "score_offset"], ["anomaly_score" if gate_feature is None else "raw_score"], name="score_offset_add"
        ),
    ]
    gate_init = []
    if gate_feature is not None:
        nodes += [
            helper.make_node("Gather", [INPUT_NAME, "gate_index"], ["gate_value"], name="gate_gather", axis=1),
            helper.make_node("GreaterOrEqual", ["gate_value", "gate_zero"], ["gate_on"], name="gate_cmp"),
            helper.make_node("Cast", ["gate_on"], ["gate_mult"], name="gate_cast", to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", ["raw_score", "gate_mult"], ["anomaly_score"], name="gate_mul"),
        ]
        gate_init = [
            numpy_helper.from_array(np.array([gate_feature], dtype=np.int64), "gate_index"),
            numpy_helper.from_array(np.array([0.0], dtype=np.float32), "gate_zero"),
        ]
    graph = helper.make_graph(
        nodes,
        "ccf_flow_anomaly",
        [helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("anomaly_score", onnx.TensorProto.FLOAT, [None, 1])],
        initializer=[
            numpy_helper.from_array(np.array([1.0], dtype=np.float32), "slog_one"),
            numpy_helper.from_array(np.array([scale], dtype=np.float32), "score_scale"),
            numpy_helper.from_array(np.array([model.offset_], dtype=np.float32), "score_offset"),
            *gate_init,
        ],
    )
    onx = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
    )
    onx.ir_version = 8
    return _finish(onx, doc)


def benign_envelope_to_onnx(
    upper: np.ndarray,
    scale: np.ndarray,
    columns: list[int],
    n_features: int,
    doc: str,
    gate_feature: int,
    products: list[tuple[int, float, int]] | None = None,
) -> bytes:
    """The benign-envelope anomaly detector: how far a flow's context lies beyond everything the benign training
    flows showed, in units of the benign spread, on the worst column:

        anomaly_score = max_j (signed_log1p(x[:, columns[j]]) - upper[j]) / scale[j]      (times the gate)

    `upper` is the benign maximum of each column (after signed_log1p), `scale` its benign standard deviation plus
    a floor. Unlike an isolation forest, whose random splits never fall outside the training range, the score keeps
    growing beyond the benign range: a flood with 100x the benign flow rate scores higher than one with 2x. The score
    is multiplied by (input[:, gate_feature] >= 0): a flow without context (-1) scores 0, "no evidence". Reads the
    full model row (n_features wide), so the scorer hands it the classifier's input buffer as is.

    `products` adds derived columns after `columns` (their `upper`/`scale` entries come last):
    (a, c, b) -> (x[:, a] * c) * x[:, b] in float32, e.g. a flow's duration in seconds times ctx_pair_ended_1s."""
    products = products or []
    gather = "env_base" if products else "env_x"
    nodes = [helper.make_node("Gather", [INPUT_NAME, "env_columns"], [gather], name="env_gather", axis=1)]
    extra_init = []
    if products:
        nodes += [
            helper.make_node("Gather", [INPUT_NAME, "prod_a_columns"], ["prod_a"], name="prod_gather_a", axis=1),
            helper.make_node("Mul", ["prod_a", "prod_scale"], ["prod_a_scaled"], name="prod_scale_mul"),
            helper.make_node("Gather", [INPUT_NAME, "prod_b_columns"], ["prod_b"], name="prod_gather_b", axis=1),
            helper.make_node("Mul", ["prod_a_scaled", "prod_b"], ["prod_x"], name="prod_mul"),
            helper.make_node("Concat", ["env_base", "prod_x"], ["env_x"], name="env_concat", axis=1),
        ]
        extra_init = [
            numpy_helper.from_array(np.array([a for a, _, _ in products], dtype=np.int64), "prod_a_columns"),
            numpy_helper.from_array(np.array([[c for _, c, _ in products]], dtype=np.float32), "prod_scale"),
            numpy_helper.from_array(np.array([b for _, _, b in products], dtype=np.int64), "prod_b_columns"),
        ]
    nodes += [
        helper.make_node("Abs", ["env_x"], ["abs_x"], name="slog_abs"),
        helper.make_node("Add", ["abs_x", "slog_one"], ["abs_x1"], name="slog_add"),
        helper.make_node("Log", ["abs_x1"], ["log_abs"], name="slog_log"),
        helper.make_node("Sign", ["env_x"], ["sign_x"], name="slog_sign"),
        helper.make_node("Mul", ["sign_x", "log_abs"], ["slog_x"], name="slog_mul"),
        helper.make_node("Sub", ["slog_x", "env_upper"], ["excess"], name="env_sub"),
        helper.make_node("Div", ["excess", "env_scale"], ["excess_sd"], name="env_div"),
        helper.make_node("ReduceMax", ["excess_sd"], ["raw_score"], name="env_max", axes=[1], keepdims=1),
        helper.make_node("Gather", [INPUT_NAME, "gate_index"], ["gate_value"], name="gate_gather", axis=1),
        helper.make_node("GreaterOrEqual", ["gate_value", "gate_zero"], ["gate_on"], name="gate_cmp"),
        helper.make_node("Cast", ["gate_on"], ["gate_mult"], name="gate_cast", to=onnx.TensorProto.FLOAT),
        helper.make_node("Mul", ["raw_score", "gate_mult"], ["anomaly_score"], name="gate_mul"),
    ]
    graph = helper.make_graph(
        nodes,
        "ccf_flow_anomaly",
        [helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("anomaly_score", onnx.TensorProto.FLOAT, [None, 1])],
        initializer=[
            numpy_helper.from_array(np.array(columns, dtype=np.int64), "env_columns"),
            numpy_helper.from_array(np.array([1.0], dtype=np.float32), "slog_one"),
            numpy_helper.from_array(np.asarray(upper, dtype=np.float32)[None, :], "env_upper"),
            numpy_helper.from_array(np.asarray(scale, dtype=np.float32)[None, :], "env_scale"),
            numpy_helper.from_array(np.array([gate_feature], dtype=np.int64), "gate_index"),
            numpy_helper.from_array(np.array([0.0], dtype=np.float32), "gate_zero"),
            *extra_init,
        ],
    )
    onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onx.ir_version = 8
    return _finish(onx, doc)


class OnnxModel:
    """A CPU onnxruntime session over serialized bytes, single-threaded for deterministic timings."""

    def __init__(self, blob: bytes) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])

    def run(self, output: str, x: np.ndarray) -> np.ndarray:
        return self.session.run([output], {INPUT_NAME: x.astype(np.float32)})[0]
