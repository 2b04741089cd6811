"""Many runs with a purpose: experiment cells and batches (cells, batchfile), one comparison
(compare), votes (votes), the per-arm analysis (analysis), the ConsiStory+ prompt sets
(consistory, consistory_table), and runs in and out of the log (importer, export)."""
