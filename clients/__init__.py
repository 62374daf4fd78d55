"""Command-line and web clients of the streamcodec server, and the latency harness."""
