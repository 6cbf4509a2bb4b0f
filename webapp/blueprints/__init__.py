"""Thin HTTP layer: a package per feature, each with ``routes.py`` (its blueprint,
``bp``) and, when it has forms of its own, ``forms.py``; its templates are in the
folder of the same name under ``webapp/templates/``."""
