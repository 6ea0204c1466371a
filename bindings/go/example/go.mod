module example

go 1.19

require netring v0.0.0

replace netring => ../
