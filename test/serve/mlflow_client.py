"""Calls a model server with MLflow's own scoring client, as an MLflow user would.

usage: mlflow_client.py <url> <rows.json>
Sends the rows as a numpy array (MLflow sends {"inputs": ...}), as a pandas DataFrame (MLflow
sends {"dataframe_split": ...}) and, with params, asks for probabilities. Prints the predictions.
"""
import json
import sys
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

url = urlparse(sys.argv[1])
with open(sys.argv[2]) as f:
    rows = np.array(json.load(f), dtype=np.float32)

client = ScoringServerClient(url.hostname, url.port)
client.wait_server_ready(timeout=30)
from_array = client.invoke(rows).get_predictions(predictions_format="ndarray")
from_frame = client.invoke(pd.DataFrame(rows)).get_predictions(predictions_format="ndarray")
probabilities = client.invoke(rows, params={"output": "probabilities"}).get_predictions(
    predictions_format="ndarray"
)
print(
    json.dumps(
        {
            "array": from_array.astype(int).tolist(),
            "frame": from_frame.astype(int).tolist(),
            "probabilities": probabilities.tolist(),
        }
    )
)
