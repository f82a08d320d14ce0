

def test_cli_block_constant_matches_the_engine():
    from simulator import cli, engine

    assert cli.BLOCK == engine.BLOCK
