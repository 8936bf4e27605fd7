"""Loaders: read files of one format into ``Document`` objects."""

# The built-in loader types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "text": "ragkit.loaders.text:TextLoader",
    "markdown": "ragkit.loaders.markdown:MarkdownLoader",
    "html": "ragkit.loaders.html:HtmlLoader",
    "pdf": "ragkit.loaders.pdf:PdfLoader",
    "docx": "ragkit.loaders.docx:DocxLoader",
    "pptx": "ragkit.loaders.pptx:PptxLoader",
    "xlsx": "ragkit.loaders.xlsx:XlsxLoader",
    "csv": "ragkit.loaders.csv:CsvLoader",
    "epub": "ragkit.loaders.epub:EpubLoader",
    "rst": "ragkit.loaders.rst:RstLoader",
    "json": "ragkit.loaders.json:JsonLoader",
}
