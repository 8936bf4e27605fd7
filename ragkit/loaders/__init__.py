"""Loaders: read files of one format into ``Document`` objects."""

# The built-in loader types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "text": "ragkit.loaders.text:TextLoader",
    "markdown": "ragkit.loaders.markdown:MarkdownLoader",
    "html": "ragkit.loaders.html:HtmlLoader",
    "pdf": "ragkit.loaders.pdf:PdfLoader",
}
