"""Runs code cells in a real kernel and prints every iopub message of each cell as one JSON line.

Usage: python run_cells.py KERNEL_NAME CWD < cells.json   (a JSON list of code strings)
Each output line: {"cell": i, "msg_id": ..., "type": ..., "parent": ..., "content": {...}}.
Messages that arrive while a later cell runs are reported with that later cell's index, so a test
can check which cell each one belongs to through "parent".
"""
import json
import sys

from jupyter_client.manager import start_new_kernel

kernel_name, cwd = sys.argv[1], sys.argv[2]
cells = json.load(sys.stdin)
manager, client = start_new_kernel(kernel_name=kernel_name, cwd=cwd, startup_timeout=120)
try:
    for index, code in enumerate(cells):
        msg_id = client.execute(code)
        print(json.dumps({"cell": index, "type": "execute", "msg_id": msg_id}), flush=True)
        while True:
            msg = client.get_iopub_msg(timeout=120)
            record = {
                "cell": index,
                "type": msg["msg_type"],
                "parent": msg["parent_header"].get("msg_id"),
                "content": msg["content"],
            }
            print(json.dumps(record, default=str), flush=True)
            if (
                msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id
            ):
                break
        reply = client.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=120)
        print(json.dumps({"cell": index, "type": "reply", "content": reply["content"]}, default=str), flush=True)
finally:
    client.stop_channels()
    manager.shutdown_kernel(now=True)
