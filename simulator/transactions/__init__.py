"""Transaction files: a business's purchases and returns read into typed arrays.

Takes: CSV or Parquet files and a column mapping (`columns`). Gives: `Transactions` (`reader`), with
dates parsed (`dates`) and every rejected row located (`source`).
"""
