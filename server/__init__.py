"""Websocket server application (rooms, relay, transcoding, generation) for streamcodec."""
