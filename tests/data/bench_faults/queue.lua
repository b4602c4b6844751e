-- queue.lua (fault fixture): never ends; --timeout must kill it.
while true do end
