"""Pipeline stages: one module per DVC stage, each a pure function plus a thin main()."""
