"""督办 bot: the application (config, wiring, domain services, jobs, CLI) and its Telegram emulator."""
