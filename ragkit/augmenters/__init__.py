"""Prompt augmenters: put retrieved passages into the generator's prompt."""

# The built-in augmenter types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "template": "ragkit.augmenters.template:TemplateAugmenter",
}
