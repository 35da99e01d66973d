"""Task evaluation: does the pruned model still do its job? Dense vs pruned on the same data."""
