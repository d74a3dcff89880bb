from stackatlas.main import main

main()
