"""The notebook adapter: kernel, ``%load_ext``, magics, cell -> node tracking, widgets.

This is the only package that imports Jupyter; the engine never imports it.
"""
