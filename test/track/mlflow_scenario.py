"""The real MLflow Python client against a tracking server, with exact read-back.

Usage: python mlflow_scenario.py <tracking-uri>
Every check is an assert; on success it prints one JSON line with the ids it created, so the
calling test can cross-check the server's store. Run by test/track/python-client.test.ts.
"""
import json
import math
import os
import sys
import tempfile
import warnings

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

warnings.filterwarnings("ignore")
uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)

experiment = mlflow.set_experiment("python-scenario")
experiment_id = experiment.experiment_id
assert client.get_experiment_by_name("python-scenario").experiment_id == experiment_id

losses = [1.0, 0.5, 0.25, 0.125, 0.0625]
with mlflow.start_run(run_name="train") as run:
    run_id = run.info.run_id
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"model": "cnn", "layers": 3})
    for step, loss in enumerate(losses):
        mlflow.log_metric("loss", loss, step=step, timestamp=1_700_000_000_000 + step)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.85}, step=4)
    mlflow.log_metric("not_a_number", float("nan"))
    mlflow.log_metric("unbounded", float("inf"))
    mlflow.set_tag("stage", "dev")
    mlflow.set_tag("temporary", "x")
    client.delete_tag(run_id, "temporary")
    dataset = mlflow.data.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), source="/data/toy.npy", name="toy")
    mlflow.log_input(dataset, context="training")
    mlflow.set_tags({"owner": "scanflow", "unicode": "naïve ✓"})
    client.log_batch(
        run_id,
        metrics=[Metric("batch", float(i), 1_700_000_000_000, i) for i in range(1000)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag("batched", "yes")],
    )
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("hello artifacts\n")
        os.makedirs(os.path.join(folder, "plots", "deep"))
        with open(os.path.join(folder, "plots", "deep", "curve.json"), "w") as f:
            json.dump({"x": [1, 2, 3]}, f)
        mlflow.log_artifact(os.path.join(folder, "notes.txt"))
        mlflow.log_artifacts(os.path.join(folder, "plots"), artifact_path="plots")
        mlflow.log_text("model weights", "model/weights.txt")
        # An MLmodel file makes model/ a model that register_model accepts from the run's artifacts.
        mlflow.log_text("artifact_path: model\nflavors: {}\n", "model/MLmodel")

got = client.get_run(run_id)
assert got.info.status == "FINISHED", got.info.status
assert got.info.run_name == "train"
assert got.info.experiment_id == experiment_id
params = got.data.params
assert params["lr"] == "0.01" and params["model"] == "cnn" and params["layers"] == "3", params
assert all(params[f"p{i}"] == str(i) for i in range(100))
metrics = got.data.metrics
assert metrics["loss"] == 0.0625 and metrics["acc"] == 0.9 and metrics["f1"] == 0.85, metrics
assert metrics["batch"] == 999.0
assert math.isnan(metrics["not_a_number"]) and metrics["unbounded"] == math.inf, metrics
tags = got.data.tags
assert tags["stage"] == "dev" and tags["owner"] == "scanflow" and tags["unicode"] == "naïve ✓", tags
assert tags["batched"] == "yes" and tags["mlflow.runName"] == "train"
assert "temporary" not in tags
inputs = got.inputs.dataset_inputs
assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("toy", dataset.digest)], inputs
assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"

history = client.get_metric_history(run_id, "loss")
assert [(m.step, m.value, m.timestamp) for m in history] == [
    (i, v, 1_700_000_000_000 + i) for i, v in enumerate(losses)
], history
assert [m.value for m in client.get_metric_history(run_id, "batch")] == [float(i) for i in range(1000)]

top = sorted(a.path for a in client.list_artifacts(run_id))
assert top == ["model", "notes.txt", "plots"], top
assert [a.path for a in client.list_artifacts(run_id, "plots/deep")] == ["plots/deep/curve.json"]
with tempfile.TemporaryDirectory() as out:
    local = client.download_artifacts(run_id, "notes.txt", out)
    assert open(local).read() == "hello artifacts\n"
    local = client.download_artifacts(run_id, "plots", out)
    assert json.load(open(os.path.join(local, "deep", "curve.json"))) == {"x": [1, 2, 3]}
assert mlflow.artifacts.load_text(f"runs:/{run_id}/model/weights.txt") == "model weights"

# Experiments: tags, rename, search; runs: delete and restore.
client.set_experiment_tag(experiment_id, "team", "ml")
assert client.get_experiment(experiment_id).tags == {"team": "ml"}
assert [e.name for e in client.search_experiments(filter_string="tags.team = 'ml'")] == ["python-scenario"]
client.rename_experiment(experiment_id, "python-scenario-renamed")
client.rename_experiment(experiment_id, "python-scenario")
client.delete_run(run_id)
assert client.get_run(run_id).info.lifecycle_stage == "deleted"
client.restore_run(run_id)
assert client.get_run(run_id).info.lifecycle_stage == "active"
try:
    client.get_run("0" * 32)
    raise AssertionError("a missing run must raise")
except mlflow.exceptions.RestException as error:
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST", error.error_code

# Three more runs to search, order and page through.
for name, acc in [("a", 0.5), ("b", 0.7), ("c", 0.95)]:
    with mlflow.start_run(run_name=name):
        mlflow.log_metric("acc", acc)
        mlflow.log_param("model", "linear" if name != "c" else "cnn")

found = client.search_runs([experiment_id], "metrics.acc > 0.6", order_by=["metrics.acc DESC"])
assert [r.info.run_name for r in found] == ["c", "train", "b"], [r.info.run_name for r in found]
found = client.search_runs([experiment_id], "params.model = 'cnn' and metrics.acc >= 0.9", order_by=["attributes.run_name ASC"])
assert [r.info.run_name for r in found] == ["c", "train"]
found = client.search_runs([experiment_id], "tags.mlflow.runName LIKE 't%'")
assert [r.info.run_name for r in found] == ["train"]
found = client.search_runs([experiment_id], "datasets.name = 'toy'")
assert [r.info.run_name for r in found] == ["train"]
page = client.search_runs([experiment_id], "", order_by=["metrics.acc ASC"], max_results=2)
names = [r.info.run_name for r in page]
while page.token:
    page = client.search_runs([experiment_id], "", order_by=["metrics.acc ASC"], max_results=2, page_token=page.token)
    names += [r.info.run_name for r in page]
assert names == ["a", "b", "train", "c"], names
listed = mlflow.search_runs(experiment_ids=[experiment_id], filter_string="metrics.acc < 0.6", output_format="list")
assert [r.info.run_name for r in listed] == ["a"]

# Model registry: register, version, alias, tags, stages.
registered = mlflow.register_model(f"runs:/{run_id}/model", "scanflow-model")
assert registered.version == "1" and registered.run_id == run_id, registered
second = client.create_model_version("scanflow-model", f"runs:/{run_id}/model", run_id=run_id, tags={"quality": "good"})
assert second.version == "2"
client.set_registered_model_alias("scanflow-model", "champion", "2")
assert client.get_model_version_by_alias("scanflow-model", "champion").version == "2"
client.set_registered_model_tag("scanflow-model", "team", "ml")
client.set_model_version_tag("scanflow-model", "1", "note", "first")
client.transition_model_version_stage("scanflow-model", "1", "Production")
client.transition_model_version_stage("scanflow-model", "2", "Production", archive_existing_versions=True)
model = client.get_registered_model("scanflow-model")
assert model.tags == {"team": "ml"} and model.aliases == {"champion": "2"}, (model.tags, model.aliases)
assert client.get_model_version("scanflow-model", "1").current_stage == "Archived"
assert client.get_model_version("scanflow-model", "1").tags == {"note": "first"}
assert client.get_model_version("scanflow-model", "2").current_stage == "Production"
assert client.get_model_version("scanflow-model", "2").tags == {"quality": "good"}
assert [v.version for v in client.search_model_versions("name = 'scanflow-model'")] == ["2", "1"]
assert client.get_model_version_download_uri("scanflow-model", "1").endswith(f"{run_id}/artifacts/model")

print(json.dumps({"experiment_id": experiment_id, "run_id": run_id}))
