"""The sandbox: the unmodified bot against the emulator over HTTP, with a demo county."""
