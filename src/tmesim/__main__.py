from tmesim.cli import app

app(prog_name="tmesim")
