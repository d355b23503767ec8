"""Community WeChat-group assistant."""
