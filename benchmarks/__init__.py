"""Speed, memory and quality benchmarks (scripts), and the reference implementations and
throw-away workspaces that the benchmarks and the tests share (``references``,
``workspaces``): test-only code kept out of the shipped packages."""
