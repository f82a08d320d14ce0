"""Authoring tools and the command line: check, fmt, test, explain, convert, diff.

Takes: rule files and events files. Gives: the `loyalty` command (`cli.main`), test runs (`testing`),
explanations of one customer (`explain`) and the semantic diff of two programs (`diff`).
"""
