"""The whole-city choice (全市通办): which of the district's centers to go to for a matter, by the
predicted wait there plus the walk from the resident (docs/recommend.md)."""
