"""The two written forms of a program and their readers and writers.

Takes: `*.loyalty` text (lark grammar in `grammar/`) or the YAML form (schema in `schema/`).
Gives: the AST (`ast`), located syntax diagnostics, and the canonical text (`formatter`) and YAML
(`yaml_writer`) of an AST. `loader` finds rule files on disk.
"""
