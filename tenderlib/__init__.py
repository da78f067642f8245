"""tenderlib: text-driven 2D whole-body human motion generation (Holistic-Motion2D / Tender).

A thin library imported by the notebooks in notebooks/. Importing the package stays cheap:
nothing heavy (torch, pandas, matplotlib) is imported here; import the modules you need, e.g.
`from tenderlib import params, tables`.
"""
import logging

__version__ = "0.1.0"

# A library logs and never prints; the application (a notebook, the CLI) configures handlers.
logging.getLogger(__name__).addHandler(logging.NullHandler())
