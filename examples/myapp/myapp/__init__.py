"""An example artifact: a purchase-dump application and a CSV batch source plugin.

The platform never imports this package: it reads ``artifact.json`` next to it. The classes document what the
manifest describes, the way a CDAP artifact's classes back its inspected ApplicationClass and PluginClass entries.
"""

__version__ = "1.0.0"
