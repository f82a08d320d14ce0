"""Checking and compiling: an AST becomes diagnostics and, when clean, the IR.

Takes: an AST `SourceFile` (`rulelang.syntax.ast`). Gives: every error and warning of the program
(`checker.check`, one pass per module) and the executable IR (`compiler.compile_source`, `rulelang.ir`).
"""
