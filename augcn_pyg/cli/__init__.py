"""The ``augcn-pyg`` command: the click group (:mod:`.group`) and one module of commands per area,
joined here with ``main.add_command``. Nothing in the package imports this folder; it imports the rest.
"""
from augcn_pyg.cli import data, graphs, model, predict
from augcn_pyg.cli.group import main, user_errors

#: each area's commands, in the order of the areas
AREAS = {"graphs": graphs, "data": data, "model": model, "predict": predict}

for _area in AREAS.values():
    for _command in _area.COMMANDS:
        main.add_command(_command)

__all__ = ["main", "user_errors"]
