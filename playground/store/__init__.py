"""What is kept on disk: the run log (runs.csv, its index, ratings.csv), the run folder, the
day cap's reservations, and the Hub dataset sync with its merged view."""
