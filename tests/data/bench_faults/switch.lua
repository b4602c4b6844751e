-- switch.lua (fault fixture): a healthy experiment with one n/a figure.
print("@bench ok_ratio=1.5 other_s=n/a")
print("@bench-na other_s not measured by the fixture")
