

def test_cli_block_constant_matches_the_engine():
    from simulator import cli_options
    from simulator.engine import day_loop as engine

    assert cli_options.BLOCK == engine.BLOCK
