"""Scanflow's Jupyter server extension: what the JupyterLab extension needs and a browser cannot do.

- ``/scanflow/tracker/api/2.0/mlflow/...``: a read-only proxy to a tracker's MLflow REST API. The
  server reaches the tracker, so a tracker bound to the server machine's loopback (its default)
  works from a remote browser and needs no CORS. The tracker's address comes in the
  ``X-Scanflow-Tracker`` header, an optional bearer token in ``X-Scanflow-Tracker-Token``; the
  browser's own credentials for Jupyter are never forwarded.
- ``/scanflow/clean``: runs ``scanflow clean`` (argv array, no shell) and returns its output.
- ``/scanflow/run``: starts ``scanflow run <workflow file> --executor <executor>`` in the
  background (argv array); its output goes to a log file next to the workflow, under
  ``scanflow-logs/``. ``/scanflow/run/<id>`` follows it: GET returns the log from a byte offset
  and the run's state (running, succeeded, failed, cancelled), DELETE cancels it (SIGINT, as
  Ctrl-C: the CLI removes the run's containers). Runs are known until the server stops.

Every route needs Jupyter's authentication (and, for POST, its XSRF check) like any API route.
"""

import asyncio
import codecs
import json
import os
import re
import secrets
import shutil
import signal
import time
from urllib.parse import urlsplit

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, List, Unicode
from traitlets.config import Configurable

# The read-only part of MLflow's REST API that the tracker panel uses.
READ_PATH = re.compile(r"^api/2\.0/mlflow/(experiments|runs|metrics|registered-models)/[a-z/-]+$")
# Searches are POSTs in MLflow's API but read nothing into the store.
POST_SEARCHES = {"api/2.0/mlflow/experiments/search", "api/2.0/mlflow/runs/search"}
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
EXECUTORS = ("auto", "docker", "local")
WORKFLOW_FILE = re.compile(r"\.(ts|js|json|ya?ml)$")
# Exit codes of a `scanflow run` stopped by SIGINT or SIGTERM (128 + the signal), as shells say.
INTERRUPTED = (130, 143)
# The most log a single GET returns; the lab asks again from the offset it got.
LOG_CHUNK = 1 << 20


class Scanflow(Configurable):
    """Settings of the server extension (``c.Scanflow.<name>`` in a Jupyter config file)."""

    command = List(
        Unicode(),
        default_value=[],
        help="The scanflow CLI as an argv prefix, e.g. ['node', '/opt/scanflow/bin/scanflow.js']. "
        "Default: `scanflow` on PATH, else node_modules/.bin/scanflow in the server's root folder.",
    ).tag(config=True)

    timeout = Float(300.0, help="Seconds a `scanflow clean` may take.").tag(config=True)

    def argv(self, root_dir):
        """The command that runs the CLI, or None when none can be found."""
        if self.command:
            return list(self.command)
        found = shutil.which("scanflow")
        if found:
            return [found]
        local = os.path.join(root_dir, "node_modules", ".bin", "scanflow")
        if os.access(local, os.X_OK):
            return [local]
        script = os.path.join(root_dir, "node_modules", "scanflow", "bin", "scanflow.js")
        node = shutil.which("node")
        if node and os.path.isfile(script):
            return [node, script]
        return None


class TrackerProxyHandler(APIHandler):
    """Forwards read-only MLflow REST calls to the tracker named in ``X-Scanflow-Tracker``."""

    def tracker_url(self, path):
        base = self.request.headers.get("X-Scanflow-Tracker", "").strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise tornado.web.HTTPError(
                400, "Give the tracker's http(s) address in the X-Scanflow-Tracker header."
            )
        if not READ_PATH.match(path):
            raise tornado.web.HTTPError(403, f"Only MLflow's read API is proxied, not '{path}'.")
        query = f"?{self.request.query}" if self.request.query else ""
        return f"{base}/{path}{query}"

    async def forward(self, path, method, body=None):
        url = self.tracker_url(path)
        headers = {"Accept": "application/json"}
        token = self.request.headers.get("X-Scanflow-Tracker-Token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            request_timeout=30,
            follow_redirects=False,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as error:
            raise tornado.web.HTTPError(502, f"The tracker at {url} did not answer: {error}")
        if response.code == 599:
            raise tornado.web.HTTPError(
                502, f"The tracker at {url} did not answer: {response.error}"
            )
        self.set_status(response.code)
        self.set_header("Content-Type", "application/json")
        self.finish(response.body or b"{}")

    @tornado.web.authenticated
    async def get(self, path):
        await self.forward(path, "GET")

    @tornado.web.authenticated
    async def post(self, path):
        if path not in POST_SEARCHES:
            raise tornado.web.HTTPError(403, f"Only searches are proxied as POST, not '{path}'.")
        await self.forward(path, "POST", self.request.body or b"{}")


class CleanHandler(APIHandler):
    """``POST {"run": "<id>"?, "keepVolumes": bool?}``: runs ``scanflow clean``."""

    @tornado.web.authenticated
    async def post(self):
        options = json_object(self.request.body)
        config = Scanflow(parent=self.serverapp)
        argv = config.argv(self.serverapp.root_dir)
        if argv is None:
            raise tornado.web.HTTPError(
                503,
                "The scanflow CLI was not found: install the npm package `scanflow` (on PATH or in "
                "the server's root folder) or set c.Scanflow.command.",
            )
        argv.append("clean")
        run = options.get("run")
        if run is not None:
            if not isinstance(run, str) or not RUN_ID.match(run):
                raise tornado.web.HTTPError(400, f"'{run}' is not a run id.")
            argv += ["--run", run]
        if options.get("keepVolumes") is True:
            argv.append("--keep-volumes")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.serverapp.root_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise tornado.web.HTTPError(
                503, f"Could not start {argv[0]}: {error.strerror}. Check c.Scanflow.command."
            )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), config.timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise tornado.web.HTTPError(504, f"scanflow clean took over {config.timeout:.0f} s.")
        self.finish(
            {
                "exitCode": process.returncode,
                "stdout": stdout.decode("utf-8", "replace"),
                "stderr": stderr.decode("utf-8", "replace"),
            }
        )


class RunHandler(APIHandler):
    """``POST {"path": "<workflow file>", "executor": "auto"|"docker"|"local"}``: starts a run;
    answers its id (for /scanflow/run/<id>) and its log file (from the server root)."""

    @tornado.web.authenticated
    async def post(self):
        options = json_object(self.request.body)
        path = options.get("path")
        executor = options.get("executor", "auto")
        if executor not in EXECUTORS:
            raise tornado.web.HTTPError(400, f"The executor must be one of {', '.join(EXECUTORS)}.")
        if not isinstance(path, str) or not WORKFLOW_FILE.search(path):
            raise tornado.web.HTTPError(400, "Give a workflow file: .ts, .js, .json or .yaml.")
        root = os.path.realpath(self.serverapp.root_dir)
        workflow = os.path.realpath(os.path.join(root, path.lstrip("/")))
        if os.path.commonpath([root, workflow]) != root or not os.path.isfile(workflow):
            raise tornado.web.HTTPError(404, f"No workflow file '{path}' under the server's root.")
        config = Scanflow(parent=self.serverapp)
        argv = config.argv(root)
        if argv is None:
            raise tornado.web.HTTPError(503, "The scanflow CLI was not found: set c.Scanflow.command.")
        argv += ["run", workflow, "--executor", executor]
        folder = os.path.dirname(workflow)
        logs = os.path.join(folder, "scanflow-logs")
        os.makedirs(logs, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = os.path.join(logs, f"{os.path.basename(workflow)}.{stamp}.log")
        with open(log_path, "ab") as log:
            log.write(f"$ scanflow run {os.path.basename(workflow)} --executor {executor}\n".encode())
            log.flush()
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=folder,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise tornado.web.HTTPError(503, f"Could not start {argv[0]}: {error.strerror}.")
        run = Run(process, log_path)
        Run.started[run.id] = run
        self.finish({"id": run.id, "pid": process.pid, "log": os.path.relpath(log_path, root)})


class Run:
    """A ``scanflow run`` started from the lab: its process, its log file and how it ended."""

    # Every run this server started, by id, so that the lab can follow and cancel them.
    started = {}

    def __init__(self, process, log_path):
        self.id = secrets.token_hex(8)
        self.process = process
        self.log_path = log_path
        self.cancelled = False
        # Awaited here, so that the process is reaped (no zombie) and its exit code is known.
        self.ended = asyncio.ensure_future(process.wait())

    @property
    def state(self):
        code = self.process.returncode
        if code is None:
            return "running"
        if code == 0:
            return "succeeded"
        if self.cancelled or code in INTERRUPTED or code < 0:
            return "cancelled"
        return "failed"

    def progress(self, offset):
        """The log from byte ``offset`` on (whole characters only) and the run's state.

        The state reads ``running`` until the log of an ended run has been read to its end, so
        that the lab stops asking only when it has everything.
        """
        state = self.state  # read first: once the process has ended, its log is complete
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                chunk = log.read(LOG_CHUNK)
                rest = bool(log.read(1))
        except FileNotFoundError:
            raise tornado.web.HTTPError(410, f"The run's log file {self.log_path} was removed.")
        complete = state != "running" and not rest
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(chunk, final=complete)
        # A character cut at the end of the chunk is sent with the next one.
        unread = len(decoder.getstate()[0])
        return {
            "state": state if complete else "running",
            "exitCode": self.process.returncode if complete else None,
            "text": text,
            "offset": offset + len(chunk) - unread,
        }


class RunProgressHandler(APIHandler):
    """``GET /scanflow/run/<id>?offset=<bytes>``: the run's log from there, and its state;
    ``DELETE /scanflow/run/<id>``: cancels the run."""

    def run(self, run_id):
        run = Run.started.get(run_id)
        if run is None:
            raise tornado.web.HTTPError(
                404, f"No run '{run_id}' was started by this Jupyter server (did it restart?)."
            )
        return run

    @tornado.web.authenticated
    def get(self, run_id):
        run = self.run(run_id)
        offset = self.get_query_argument("offset", "0")
        if not offset.isdigit():
            raise tornado.web.HTTPError(400, "The offset must be a whole number of bytes.")
        self.finish(run.progress(int(offset)))

    @tornado.web.authenticated
    def delete(self, run_id):
        run = self.run(run_id)
        if run.state == "running":
            run.cancelled = True
            # As Ctrl-C: the CLI cancels the run and removes its containers, then exits.
            try:
                run.process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass  # it ended meanwhile
        self.finish({"state": run.state})


def json_object(body):
    """A request body as a JSON object (an empty body is ``{}``); 400 otherwise."""
    try:
        options = json.loads(body or b"{}")
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise tornado.web.HTTPError(400, "The body must be a JSON object.")
    return options


def setup_handlers(server_app):
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "scanflow")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "tracker", "(.*)"), TrackerProxyHandler),
            (url_path_join(base, "clean"), CleanHandler),
            (url_path_join(base, "run"), RunHandler),
            (url_path_join(base, "run", "([0-9a-f]{16})"), RunProgressHandler),
        ],
    )
