"""The composition root: the Toolbox (settings, console, stop signal) builds the narrow values each stage
takes (toolbox), and one entry per task resolves them and calls its stage (entries). The task layer and the
local pipeline call the entries; nothing below this package sees the toolbox."""
