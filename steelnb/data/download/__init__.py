"""Downloads of real steel data, each checked complete before it is used: Kaggle Severstal and NEU-Seg."""
