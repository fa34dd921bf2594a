"""stylize: real-time style transfer for webcams and video."""
__version__ = "0.1.0"
