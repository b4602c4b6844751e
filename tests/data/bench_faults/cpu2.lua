-- cpu2.lua (fault fixture): the child dies of a signal. SIGKILL, because
-- the sanitizers catch SIGSEGV and turn it into an exit status.
os.execute("kill -KILL $PPID")
while true do end
