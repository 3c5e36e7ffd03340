"""JupyterLab extension of Scanflow: renders workflows, tracker, drift and labeling panels, and a
small server extension (see handlers.py) for what the browser cannot do itself."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "scanflow"}]


def _jupyter_server_extension_points():
    return [{"module": "jupyterlab_scanflow"}]


def _load_jupyter_server_extension(server_app):
    from .handlers import setup_handlers

    setup_handlers(server_app)
    server_app.log.info("scanflow: server extension loaded (tracker proxy, clean, run)")
