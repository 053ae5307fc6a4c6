#!/usr/bin/env python3
"""Regenerates the README's knob and metric tables from the registry and the catalog.

Usage: scripts/update-readme-tables.py [path/to/rectune]   (default .build/release/rectune)
ReadmeSyncTests fails when the README and the registry disagree; this script is the fix.
"""
import pathlib, re, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / ".build/release/rectune")
readme = root / "README.md"
text = readme.read_text()
for name, command in [("knobs", "knobs"), ("metrics", "metrics")]:
    table = subprocess.run([binary, command, "--markdown"], check=True, capture_output=True, text=True).stdout.strip()
    pattern = re.compile(r"(<!-- %s:begin -->\n).*?(<!-- %s:end -->)" % (name, name), re.S)
    text, count = pattern.subn(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    if count != 1:
        sys.exit(f"README.md: no <!-- {name}:begin/end --> markers")
readme.write_text(text)
