"""Generators: language models that write the answer."""

# The built-in generator types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "auto": "ragkit.generators.auto:AutoGenerator",
    "transformers": "ragkit.generators.huggingface:TransformersGenerator",
    "llamacpp": "ragkit.generators.llamacpp:LlamaCppGenerator",
    "openai": "ragkit.generators.openai:OpenAIGenerator",
}
