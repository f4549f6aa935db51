"""``hub report``: the district's self-contained HTML report from the analytics topics."""
