#!/usr/bin/env python3
"""Validate Jupyter notebooks against the nbformat schema.

Usage: scripts/validate_notebook.py NOTEBOOK.ipynb [...]
Exit status: 0 all valid, 1 a notebook is invalid, 2 nbformat is not installed (pip install nbformat).
With --execute-code, also runs every code cell in one namespace with matplotlib's Agg backend
(needs pandas and matplotlib), which checks that the cells really rebuild the tables and plots.
"""
import sys


def main(argv):
    execute = "--execute-code" in argv
    paths = [a for a in argv[1:] if not a.startswith("--")]
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import nbformat
    except ImportError:
        print("nbformat is not installed (pip install nbformat)", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # nbformat raises several types (ValidationError, JSON errors, IO errors)
            print(f"{path}: INVALID: {e}", file=sys.stderr)
            status = 1
            continue
        cells = nb.cells
        print(f"{path}: valid nbformat {nb.nbformat}.{nb.nbformat_minor}, {len(cells)} cells "
              f"({sum(c.cell_type == 'code' for c in cells)} code)")
        if execute:
            import matplotlib
            matplotlib.use("Agg")
            namespace = {}
            for i, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                try:
                    exec(compile(cell.source, f"{path}#cell{i}", "exec"), namespace)
                except Exception as e:
                    print(f"{path}: cell {i} failed: {type(e).__name__}: {e}", file=sys.stderr)
                    status = 1
                    break
            else:
                print(f"{path}: every code cell ran")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
