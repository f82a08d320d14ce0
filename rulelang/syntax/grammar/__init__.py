"""The grammar of the text form, as lark data.

Takes: nothing (package data). Gives: `rulelang.lark`, read by `rulelang.syntax.parser`.
"""
