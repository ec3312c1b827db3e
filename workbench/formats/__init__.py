"""Foreign formats, one module each: models and logs in from other tools and out to them.

    nanogpt       `workbench import ckpt.pt`: a nanoGPT checkpoint becomes a run
    hf_gpt2       `[model] init_from` and `workbench export RUN --hf DIR`: Hugging Face GPT-2 folders
    tensorboard   `workbench export RUN… --tensorboard DIR`: scalars and samples as event files

Files from elsewhere are untrusted: checkpoints are read with torch.load(weights_only=True)
or safetensors, never unpickled as arbitrary objects.
"""
