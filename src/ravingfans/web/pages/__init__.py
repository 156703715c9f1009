"""HTML pages for staff, one router module per area."""
