from crowdcensus.cli import main

main()
