"""Pure queue rules: no I/O here, so each rule can be read and tested on its own."""
