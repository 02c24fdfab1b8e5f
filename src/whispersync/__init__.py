"""WhisperSync: voice-memo transcripts in, actions out, everything observable."""
__version__ = "0.1.0"
