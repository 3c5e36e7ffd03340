"""JupyterLab for the UI tests: Galata's test setup, bound to 127.0.0.1 on the port and root folder
that test/ui/ui.test.ts chooses (SCANFLOW_UI_PORT, JUPYTERLAB_GALATA_ROOT_DIR)."""
import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object Jupyter passes in)
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ["SCANFLOW_UI_PORT"])  # noqa: F821
c.ServerApp.root_dir = os.environ["JUPYTERLAB_GALATA_ROOT_DIR"]  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821 (CI runs as root)
