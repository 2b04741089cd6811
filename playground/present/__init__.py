"""What the UI and the CLI show, as text and plain values (no gradio): runs, estimates,
providers, forms, the Compare and Analysis tabs' contents."""
